"""Real third-party DICOM files that ship inside pydicom (``pydicom/data/test_files``).

radguard never downloads anything at run time. pydicom's ``get_testdata_file`` would
fetch files that are not bundled from the internet; use :func:`bundled` and
:func:`bundled_files` instead, and :func:`disable_downloads` in test/demo processes.
"""

from __future__ import annotations

from pathlib import Path


class NotBundledError(LookupError):
    """The named file is not among pydicom's bundled test files (and will not be downloaded)."""


def test_files_dir() -> Path:
    import pydicom.data

    return Path(pydicom.data.__file__).parent / "test_files"


def bundled(name: str) -> Path:
    """Path of one bundled test file, e.g. ``bundled("CT_small.dcm")``."""
    path = test_files_dir() / name
    if not path.is_file():
        raise NotBundledError(f"{name} is not bundled with pydicom (radguard never downloads test data)")
    return path


def bundled_files(pattern: str = "*.dcm") -> list[Path]:
    """Every bundled test file matching ``pattern`` (sorted; local files only)."""
    return sorted(p for p in test_files_dir().rglob(pattern) if p.is_file())


def disable_downloads() -> None:
    """Make pydicom's test-data download path fail at once instead of reaching the internet."""
    import pydicom.data.data_manager as dm

    def _refuse(filename: str, *args: object, **kwargs: object) -> Path:
        raise NotBundledError(f"{filename} is not bundled with pydicom (radguard never downloads test data)")

    setattr(dm, "data_path_with_download", _refuse)  # noqa: B010 - monkeypatching a module attribute
