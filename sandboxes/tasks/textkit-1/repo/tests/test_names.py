from textkit import module_name, package_path


def test_module_name():
    assert module_name("pkg/tools.py") == "tools"
    assert module_name("main.py") == "main"


def test_package_path():
    assert package_path("pkg/sub/tools.py") == "pkg.sub.tools"
