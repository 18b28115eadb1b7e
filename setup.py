"""Optional compiled fast paths (src/radguard/dicom/_speedups.c); all metadata lives in pyproject.toml.

``optional=True``: without a C compiler or Python headers the package installs and runs on its
pure-Python code (``RADGUARD_NO_SPEEDUPS=1`` forces that path on any machine).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "radguard.dicom._speedups",
            sources=["src/radguard/dicom/_speedups.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
