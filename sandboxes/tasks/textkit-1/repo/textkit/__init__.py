from textkit.names import module_name, package_path

__all__ = ["module_name", "package_path"]
