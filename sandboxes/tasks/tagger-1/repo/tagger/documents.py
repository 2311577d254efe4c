class Document:
    def __init__(self, title, tags=[]):
        self.title = title
        self.tags = tags

    def tag(self, name):
        if name not in self.tags:
            self.tags.append(name)

    def has_tag(self, name):
        return name in self.tags
