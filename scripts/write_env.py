"""Write a ``.env`` for the embedded default with fresh secrets, once. Runs before Django can
start (the settings need these values), so it uses the standard library only."""

import base64
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    target = ROOT / ".env"
    if target.exists():
        return 0
    fernet_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    lines = [
        "# Written by `make run` for the embedded default. Never commit this file.",
        f"SECRET_KEY={secrets.token_urlsafe(50)}",
        f"FERNET_KEYS={fernet_key}",
        "DJANGO_DEBUG=true",
        f"TANDEM_DEMO_ADMIN_PASSWORD={secrets.token_urlsafe(12)}",
    ]
    target.write_text("\n".join(lines) + "\n")
    target.chmod(0o600)
    print(f"wrote {target.relative_to(ROOT)} with fresh secrets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
