from tagger import Document


def test_tag_once():
    doc = Document("report", tags=["q1"])
    doc.tag("final")
    doc.tag("final")
    assert doc.tags == ["q1", "final"]
    assert doc.has_tag("final") and not doc.has_tag("draft")
