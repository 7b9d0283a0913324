"""Joining and splitting names, the smart split that keeps the user's choice included."""

from __future__ import annotations

import pytest

from integrations.sync import names

NEW_NAMES = [
    # (full name, (prefix, first, last, suffix))
    ("Mary Ann Smith", ("", "Mary Ann", "Smith", "")),
    ("John Smith", ("", "John", "Smith", "")),
    ("Ludwig van Beethoven", ("", "Ludwig", "van Beethoven", "")),
    ("Vincent van der Berg", ("", "Vincent", "van der Berg", "")),
    ("Jean-Claude Van Damme", ("", "Jean-Claude", "Van Damme", "")),
    ("Juan de la Cruz", ("", "Juan", "de la Cruz", "")),
    ("Leonardo da Vinci", ("", "Leonardo", "da Vinci", "")),
    ("Charles de Gaulle", ("", "Charles", "de Gaulle", "")),
    ("Ursula von der Leyen", ("", "Ursula", "von der Leyen", "")),
    ("Ludwig Mies van der Rohe", ("", "Ludwig Mies", "van der Rohe", "")),
    ("Guido van Rossum", ("", "Guido", "van Rossum", "")),
    ("Oscar de la Hoya", ("", "Oscar", "de la Hoya", "")),
    ("Ahmed bin Rashid", ("", "Ahmed", "bin Rashid", "")),
    ("Dr. Martin Luther King Jr.", ("Dr.", "Martin Luther", "King", "Jr.")),
    ("Mr. John Smith III", ("Mr.", "John", "Smith", "III")),
    ("Bill Gates III", ("", "Bill", "Gates", "III")),
    ("Robert Downey Jr.", ("", "Robert", "Downey", "Jr.")),
    ("John Smith, Jr.", ("", "John", "Smith", "Jr.")),
    ("John Smith Esq.", ("", "John", "Smith", "Esq.")),
    ("Dr. John van der Berg PhD", ("Dr.", "John", "van der Berg", "PhD")),
    ("Jan van Eyck III", ("", "Jan", "van Eyck", "III")),
    ("Sir Patrick Stewart", ("Sir", "Patrick", "Stewart", "")),
    ("Ms. Jane Doe", ("Ms.", "Jane", "Doe", "")),
    ("Prof. Albert Einstein", ("Prof.", "Albert", "Einstein", "")),
    ("Rev. Dr. Jane Roe", ("Rev. Dr.", "Jane", "Roe", "")),
    ("Dr. Who", ("Dr.", "", "Who", "")),
    ("Dean Martin", ("", "Dean", "Martin", "")),
    ("Cher", ("", "Cher", "", "")),
    ("Prince", ("", "Prince", "", "")),
    ("Madonna Louise Ciccone", ("", "Madonna Louise", "Ciccone", "")),
    ("Gabriel García Márquez", ("", "Gabriel García", "Márquez", "")),
    ("José María Aznar López", ("", "José María Aznar", "López", "")),
    ("Anne-Marie O'Neil", ("", "Anne-Marie", "O'Neil", "")),
    ("Sean O'Connor", ("", "Sean", "O'Connor", "")),
    ("Mary-Kate Olsen", ("", "Mary-Kate", "Olsen", "")),
    ("Hans Christian Andersen", ("", "Hans Christian", "Andersen", "")),
    ("Edgar Allan Poe", ("", "Edgar Allan", "Poe", "")),
    ("Martin Luther King", ("", "Martin Luther", "King", "")),
    ("Li Wei", ("", "Li", "Wei", "")),
    ("  Mary   Ann   Smith  ", ("", "Mary Ann", "Smith", "")),
    ("Smith, John", ("", "John", "Smith", "")),
    ("", ("", "", "", "")),
]


@pytest.mark.parametrize(("full", "expected"), NEW_NAMES)
def test_it_splits_a_new_name(full: str, expected: tuple[str, str, str, str]) -> None:
    assert names.split(full) == names.Name(*expected)


@pytest.mark.parametrize(
    "full", [full for full, _ in NEW_NAMES if full.strip() and "," not in full]
)
def test_it_splits_so_that_joining_gives_the_name_back(full: str) -> None:
    assert names.split(full).full == names.clean(full)


@pytest.mark.parametrize(
    "full", ["Dr. Martin Luther King Jr.", "Mr. John Smith III", "Robert Downey Jr.", "Dr. Who"]
)
def test_it_never_puts_a_prefix_or_suffix_into_the_last_name(full: str) -> None:
    name = names.split(full)
    assert name.prefix or name.suffix
    assert not {"Dr.", "Mr.", "Jr.", "III"} & set(name.last.split())
    assert not {"Dr.", "Mr."} & set(name.first.split())


@pytest.mark.parametrize(
    "parts",
    [
        ("Dr.", "Martin Luther", "King", "Jr."),
        ("", "Vincent", "van der Berg", ""),
        ("Prof.", "Charles", "de Gaulle", ""),
        ("", "Robert", "Downey", "Jr."),
        ("Ms.", "Jane", "Doe", "PhD"),
    ],
)
def test_it_gives_the_parts_back_after_a_trip_through_a_full_name(
    parts: tuple[str, str, str, str],
) -> None:
    name = names.Name(*parts)
    assert names.split(name.full) == name


def test_it_folds_honorifics_into_first_and_last_for_apps_without_them() -> None:
    folded = names.Name("Dr.", "Martin Luther", "King", "Jr.").folded()
    assert folded == names.Name("", "Dr. Martin Luther", "King Jr.", "")


KEPT_SPLITS = [
    # (previous first, previous last, new full name, expected first and last)
    ("Mary Ann", "Smith", "Mary Ann Jones", ("Mary Ann", "Jones")),
    ("Mary Ann", "Smith", "Mary Jo Smith", ("Mary Jo", "Smith")),
    ("Mary Ann", "Smith", "Mary Ann Smith-Jones", ("Mary Ann", "Smith-Jones")),
    ("Mary", "Ann Smith", "Mary Ann Smith", ("Mary", "Ann Smith")),
    ("Mary", "Ann Smith", "Maria Ann Smith", ("Maria", "Ann Smith")),
    ("Cher", "", "Cher", ("Cher", "")),
    ("Cher", "", "Cher Sarkisian", ("Cher", "Sarkisian")),
    ("John", "Smith", "John", ("John", "")),
    # Both parts changed: nothing to keep, the parser decides.
    ("Mary Ann", "Smith", "Bob van Dyke", ("Bob", "van Dyke")),
]


@pytest.mark.parametrize(("first", "last", "full", "expected"), KEPT_SPLITS)
def test_it_keeps_the_users_split_when_one_part_changes(
    first: str, last: str, full: str, expected: tuple[str, str]
) -> None:
    previous = names.Name(first=first, last=last)
    assert names.split(full, previous=previous) == names.Name("", *expected, "")


MLK = ("Dr.", "Martin Luther", "King", "Jr.")
KEPT_HONORIFIC_SPLITS = [
    # (previous parts, new full name, expected parts)
    (("Dr.", "Mary Ann", "Smith", ""), "Dr. Mary Ann Jones", ("Dr.", "Mary Ann", "Jones", "")),
    (("", "Ludwig", "van Beethoven", ""), "Ludwig van Beethoven II",
     ("", "Ludwig", "van Beethoven", "II")),
    (MLK, "Dr. Martin Luther King Jr.", MLK),
    (MLK, "Martin Luther King Jr.", ("", "Martin Luther", "King", "Jr.")),
    (MLK, "Dr. Martin Luther King", ("Dr.", "Martin Luther", "King", "")),
    (MLK, "Dr. Martin Luther Kingston Jr.", ("Dr.", "Martin Luther", "Kingston", "Jr.")),
    (("", "Mary Ann", "Smith", ""), "Dr. Mary Ann Smith", ("Dr.", "Mary Ann", "Smith", "")),
    (("", "Mary", "Ann Smith", ""), "Mary Ann Smith Jr.", ("", "Mary", "Ann Smith", "Jr.")),
]  # fmt: skip


@pytest.mark.parametrize(("previous", "full", "expected"), KEPT_HONORIFIC_SPLITS)
def test_it_keeps_the_users_split_around_prefixes_and_suffixes(
    previous: tuple[str, str, str, str], full: str, expected: tuple[str, str, str, str]
) -> None:
    assert names.split(full, previous=names.Name(*previous)) == names.Name(*expected)


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("Mary Ann", "Smith", "Mary Ann Smith"),
        ("Cher", "", "Cher"),
        ("", "Smith", "Smith"),
        ("  Mary ", " Smith  ", "Mary Smith"),
        (None, None, ""),
    ],
)
def test_it_joins_first_and_last_names(first: str, last: str, expected: str) -> None:
    assert names.join(first, last) == expected
