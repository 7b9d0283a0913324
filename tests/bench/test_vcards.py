from pathlib import Path

from bench import vcards
from bench.common import extra_phone_of
from sandbox.demo_people import DemoPerson

PERSON = DemoPerson(
    first_name="Jean-Luc",
    last_name="García Márquez",
    emails=("jean-luc.garcia@example.com", "jgarcia7@work.example"),
    phones=("+34 91 555 1234",),
    company="Soylent, Foods; Inc",
    job_title="CTO",
    city="Madrid",
    country="ES",
)


def test_a_vcard_carries_the_persons_fields_with_crlf_lines() -> None:
    text = vcards.vcard(PERSON, 7)
    assert text.startswith("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:tandem-bench-42-7\r\n")
    assert text.endswith("END:VCARD\r\n")
    lines = vcards.unfolded(text)
    assert "FN:Jean-Luc García Márquez" in lines
    assert "N:García Márquez;Jean-Luc;;;" in lines
    assert "EMAIL;TYPE=work:jgarcia7@work.example" in lines
    assert "TITLE:CTO" in lines
    assert "X-LOYALTY-TIER:bronze" in vcards.unfolded(vcards.vcard(PERSON, 9))


def test_text_values_escape_commas_semicolons_and_backslashes() -> None:
    assert vcards.escape("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    assert "ORG:Soylent\\, Foods\\; Inc" in vcards.unfolded(vcards.vcard(PERSON, 1))


def test_long_lines_fold_at_75_octets_without_splitting_a_character() -> None:
    line = "NOTE:" + "é" * 100
    folded = vcards.fold(line)
    parts = folded.split("\r\n")
    assert all(len(part.encode()) <= 75 for part in parts)
    assert all(part.startswith(" ") for part in parts[1:])
    assert folded.replace("\r\n ", "") == line


def test_an_extra_phone_is_the_one_the_sync_benchmark_gives_a_shared_customer() -> None:
    lines = vcards.unfolded(vcards.vcard(PERSON, 1234, extra_phone=True))
    assert "TEL;TYPE=cell:+1 555 000 1234" in lines


def test_extra_phones_differ_by_their_digits_for_150000_people() -> None:
    # Kustomer refuses a second customer with the same phone: a repeat would leave people out
    # of the 100,000 data set.
    digits = {"".join(c for c in extra_phone_of(i) if c.isdigit()) for i in range(150_000)}
    assert len(digits) == 150_000


def test_the_two_sides_hold_n_each_and_share_half_by_uid() -> None:
    side_a, side_b = vcards.sides(10)
    a, b = dict(side_a), dict(side_b)
    assert len(a) == len(b) == 10
    shared = set(a) & set(b)
    assert shared == {vcards.uid(index) for index in range(5, 10)}
    # Every fifth shared person differs (an extra phone on side A), as in bench.sync.
    differing = {u for u in shared if a[u] != b[u]}
    assert differing == {vcards.uid(5)}


def test_the_same_seed_gives_the_same_vcards() -> None:
    assert list(vcards.sides(6)[0]) == list(vcards.sides(6)[0])


def test_an_edit_replaces_the_company_and_renames_a_new_file_over_the_old(
    tmp_path: Path,
) -> None:
    count = vcards.write_side(tmp_path, iter([("u1", vcards.vcard(PERSON, 1))]))
    path = tmp_path / "u1.vcf"
    inode = path.stat().st_ino
    vcards.edit(path, "K-1000-0-3")
    text = path.read_bytes().decode()
    assert count == 1
    assert vcards.company(text) == "K-1000-0-3"
    assert [line for line in vcards.unfolded(text) if line.startswith("ORG:")] == ["ORG:K-1000-0-3"]
    assert path.stat().st_ino != inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["u1.vcf"]


def test_a_company_with_escaped_characters_reads_back_as_written() -> None:
    assert (
        vcards.company(vcards.with_company(vcards.vcard(PERSON, 1), "A, B; C\\D")) == "A, B; C\\D"
    )


def test_the_two_sides_edits_are_spread_and_never_touch_one_item_twice() -> None:
    names = [f"{i:04d}.vcf" for i in range(1000)]
    on_a = vcards.spread(names, 50, offset=False)
    on_b = vcards.spread(names, 50, offset=True)
    assert len(on_a) == len(on_b) == 50
    assert not set(on_a) & set(on_b)
    assert on_a[:2] == ["0000.vcf", "0020.vcf"]
    assert on_b[:2] == ["0010.vcf", "0030.vcf"]
