"""A module-level cache that is never emptied: the leak."""

_STORE = {}


class Session:
    def __init__(self, key, user):
        self.key = key
        self.user = user
        self.hits = 0
        self.state = "new"
        self.history = None


def remember(key, user):
    _STORE[key] = Session(key, user)
