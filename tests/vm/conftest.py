"""tests/vm: the crash-kernel end-to-end test (opt-in: PMD_VM_TESTS=1)."""


def pytest_configure(config):  # noqa: ANN001, ANN201
    config.addinivalue_line("markers", "vm: boots QEMU guests and crashes them (minutes); needs PMD_VM_TESTS=1")
