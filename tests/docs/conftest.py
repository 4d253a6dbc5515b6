"""The document tests' fixtures: every test starts with the parsers' memos empty.

check_cff keeps its reports by content hash, and builtin_content parses the content file once:
a test whose input an earlier test already parsed would otherwise get that earlier result
without running the parser. The scan itself empties the CFF memo per run; a test calling a
parser directly gets the same. (Under mutation testing this is what lets a test reach the
mutant: the memo would hand back the unmutated report, made before the mutant was chosen.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from duqhunt.sources.office.cff import clear_memo
from duqhunt.sources.office.limits import builtin_content


@pytest.fixture(autouse=True)
def _fresh_parser_memos() -> Iterator[None]:
    clear_memo()
    builtin_content.cache_clear()
    yield
