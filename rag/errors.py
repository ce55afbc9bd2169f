"""Knowledge errors: each is a :mod:`voice_server.errors` class, so HTTP mapping stays in one place.

IngestionError (InvalidInput 400)      a document we cannot turn into text
├── EncryptedDocument                  password-protected PDF
├── NoExtractableText                  scanned / image-only PDF, empty text
├── TooManyPages                       over PARLEY_RAG_MAX_PAGES
├── ArchiveTooLarge                    a ZIP-based file over the unpacked size or ratio limits
└── ParseAborted                       the parsing worker hit its memory or CPU limit, or died
UnsupportedDocument (415)              a content type we do not read
FetchRefused (InvalidInput 400)        a URL we will not fetch (private address, scheme)
FetchFailed (ServiceUnavailable 503)   the remote site or Drive did not answer usefully
└── DriveAuthError                     Drive refused the token (revoked or expired)
EmbedderUnavailable (ServiceUnavailable 503) a local model's files are missing or changed
"""

from __future__ import annotations

from voice_server.errors import InvalidInput, ServiceUnavailable, UnsupportedMediaType


class IngestionError(InvalidInput):
    slug = "document-unreadable"
    title = "Document cannot be read"


class EncryptedDocument(IngestionError):
    slug = "document-encrypted"
    title = "Document is encrypted"


class NoExtractableText(IngestionError):
    slug = "document-without-text"
    title = "Document has no text"


class TooManyPages(IngestionError):
    slug = "document-too-many-pages"
    title = "Document has too many pages"


class ArchiveTooLarge(IngestionError):
    slug = "document-too-large-unpacked"
    title = "Document unpacks to too much data"


class ParseAborted(IngestionError):
    slug = "document-parse-aborted"
    title = "Parsing the document was stopped"


class UnsupportedDocument(UnsupportedMediaType):
    slug = "document-type-unsupported"
    title = "Unsupported document type"


class FetchRefused(InvalidInput):
    slug = "url-refused"
    title = "URL refused"


class FetchFailed(ServiceUnavailable):
    slug = "fetch-failed"
    title = "Fetching the source failed"


class DriveAuthError(FetchFailed):
    slug = "drive-unauthorized"
    title = "Google Drive refused the credentials"


class EmbedderUnavailable(ServiceUnavailable):
    slug = "embedder-unavailable"
    title = "The embedding model cannot be loaded"
