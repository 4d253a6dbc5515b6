"""Detectors for documents and embedded fonts (the Duqu installer: CVE-2011-3402)."""

from duqhunt.detectors.doc.catalogue import DOC_DETECTORS, DocDetector, Emitter

__all__ = ["DOC_DETECTORS", "DocDetector", "Emitter"]
