"""Turn file paths into Python module names."""


def module_name(filename):
    """``"pkg/tools.py"`` -> ``"tools"``."""
    base = filename.rsplit("/", 1)[-1]
    return base.rstrip(".py")


def package_path(filename):
    """``"pkg/sub/tools.py"`` -> ``"pkg.sub.tools"``."""
    parts = filename.split("/")
    return ".".join(parts[:-1] + [module_name(parts[-1])])
