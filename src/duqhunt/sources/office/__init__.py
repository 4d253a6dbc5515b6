"""Office documents and fonts as data: OLE2, OOXML, RTF, sfnt/WOFF/EOT, zip archives.

Nothing here executes, renders or writes input; every reader works on bytes with limits
(``DocLimits``) and raises ``InputError`` (naming the file and where) on what it cannot parse.
"""
