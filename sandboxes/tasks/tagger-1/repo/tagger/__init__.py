from tagger.documents import Document

__all__ = ["Document"]
