"""The `.bib` entry of the reader registry: adapts the BibTeX parser (`bib/bibtex/reader.py`,
which keeps entries, @strings and errors of a .bib file) to the registry's interface, which
turns a file into `Reference`s for the index.

Keys are kept exactly as the file has them; the BibTeX reader's own errors (a broken entry
costs only that entry, which is skipped as BibTeX skips it) pass through.
"""

from __future__ import annotations

from citewise.bib.errors import SourceError
from citewise.bib.model import Reference


def read_bibtex(path: str, text: str, strings: dict[str, str]) -> tuple[list[Reference], list[SourceError]]:
    """References of a .bib file; `strings` holds the @strings of the .bib files read before
    in the same read (BibTeX reads a bibliography as one stream) and receives this file's.

    `text` (already decoded by the caller) is not used: the BibTeX reader decodes the file
    itself, honouring the `% Encoding:` line JabRef writes. It is imported here, on first
    use, because its parser costs half a second to import and the registry is read by
    `--help`.
    """
    from citewise.bib.bibtex.bibliography import with_earlier_strings
    from citewise.bib.bibtex.reader import entry_to_reference, read_bib_file

    bib_file = with_earlier_strings(read_bib_file(path), strings)
    strings.update(bib_file.strings)
    usable = [entry for entry in bib_file.entries if not entry.problem]  # as BibTeX, which skips a broken entry
    return [entry_to_reference(entry, path) for entry in usable], list(bib_file.errors)
