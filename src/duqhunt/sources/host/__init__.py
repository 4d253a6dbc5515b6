"""Host evidence: triage folders, offline hives, event logs, PE files, legacy task files.

Every reader here parses bytes as data and never executes anything. Each one fails soft per
artefact: a problem raises :class:`duqhunt.errors.InputError` (naming the file and where), and
partial reads report what they skipped.
"""
