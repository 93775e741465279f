"""The build's one step past copying files: compile the Hessian's C kernel.

``gradcli/hessian_kernel.c`` becomes the extension module ``gradcli.hessian_kernel``
where the machine has a C compiler and Python's headers (setuptools finds both, on
every platform). Where it has not, the build says so in one warning and goes on:
gradcli works without the kernel, its Hessians taking the NumPy path at about a
tenth of the speed. Set ``GRADCLI_NO_KERNEL=1`` to build without it on purpose.

A wheel that carries the kernel is tagged for this Python and platform; an editable
install gets the module beside the source, where the checkout's ``gradcli`` is imported.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = "gradcli/hessian_kernel.c"
MODULE = "gradcli.hessian_kernel"
#: Each operation rounded on its own, as Python rounds it: no fused multiply-add.
#: Fast math is switched off after whatever CFLAGS the environment sets (setuptools
#: puts them first, in the link too): compiled with it the kernel's numbers are not
#: Python's, and linked with it (-Ofast, -ffast-math or -funsafe-math-optimizations,
#: GCC before 13) the module turns on flush-to-zero for the whole interpreter when
#: it is imported. The last -O wins, so -O2 undoes an -Ofast.
NO_FAST_MATH = ["-O2", "-fno-fast-math", "-fno-unsafe-math-optimizations"]
UNIX_FLAGS = [*NO_FAST_MATH, "-ffp-contract=off"]
UNIX_LINK_FLAGS = NO_FAST_MATH
WINDOWS_FLAGS = ["/O2", "/fp:precise"]


def compile_kernel(root: Path, into: Path) -> Path:
    """Compile the kernel under ``into``; the path of the built module."""
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext

    windows = sys.platform == "win32"
    extension = Extension(MODULE, [SOURCE], extra_compile_args=WINDOWS_FLAGS if windows else UNIX_FLAGS,
                          extra_link_args=[] if windows else UNIX_LINK_FLAGS)
    here = os.getcwd()
    os.chdir(root)  # setuptools wants the source relative to the project
    try:
        command = build_ext(Distribution({"name": "gradcli", "ext_modules": [extension]}))
        command.build_lib = str(into / "lib")
        command.build_temp = str(into / "temp")
        command.ensure_finalized()
        command.run()
        return Path(command.get_ext_fullpath(MODULE))
    finally:
        os.chdir(here)


def install_module(built: Path, into: Path) -> Path:
    """Put the built module into the folder ``into`` (an editable install's
    ``gradcli/``) by renaming a copy onto its name: a process that has the old
    module loaded keeps the old file. Writing over the file in place rewrites the
    pages that process has mapped, and it crashes (a REPL or notebook left open
    during ``pip install -e .``)."""
    target = into / built.name
    fd, temporary = tempfile.mkstemp(prefix=f".{built.name}.", dir=into)
    os.close(fd)
    try:
        shutil.copy2(built, temporary)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


class KernelBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or os.environ.get("GRADCLI_NO_KERNEL"):
            return
        work = self.kernel_dir = Path(tempfile.mkdtemp(prefix="gradcli-kernel-"))  # removed by finalize
        try:
            built = compile_kernel(Path(self.root), work)
        except Exception as exc:  # no compiler, no headers: gradcli works without the kernel
            self.app.display_warning(
                f"gradcli: the Hessian's C kernel was not built ({type(exc).__name__}: {exc});"
                " Hessians will take the slower NumPy path"
            )
            return
        if version == "editable":  # the checkout's gradcli/ is what gets imported
            install_module(built, Path(self.root) / "gradcli")
        else:
            build_data["force_include"][str(built)] = f"gradcli/{built.name}"
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        work = getattr(self, "kernel_dir", None)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
