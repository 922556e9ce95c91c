"""`ConfigObject`: what an object described by its ``get_config()`` (an
initializer, a regularizer) derives from it."""

__all__ = ["ConfigObject"]


class ConfigObject:
    """Rebuilt by ``cls(**get_config())``; equal to another of its type with
    an equal config, hashed by type, shown as ``Name(arg=value, ...)``."""

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash(type(self))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
