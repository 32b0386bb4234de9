"""Test-session set-up shared by the unit tests and the notebook runs (nbval, papermill).

- One OpenMP thread unless the caller chose otherwise: on a busy 2-core machine two spinning
  threads per process made notebook 01 ten times slower, and one thread keeps the recorded
  numbers the same from run to run. Kernels started by nbval and papermill inherit it.
- nbval compares a cell marked ``# NBVAL_CHECK_OUTPUT`` with the notebook's stored output, but
  the course stores notebooks without outputs. The expected text lives instead in the cell's
  metadata (``"expected_output"``), next to the code that prints it, and is handed to nbval as
  the stored output when nbval reads the notebook.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")  # the venv's kernel, not a user-wide one


class _NbformatWithExpectedOutputs:
    """nbformat, except that ``read`` fills in expected outputs from cell metadata."""

    def __init__(self, nbformat):
        self._nbformat = nbformat

    def __getattr__(self, name):
        return getattr(self._nbformat, name)

    def read(self, *args, **kwargs):
        nb = self._nbformat.read(*args, **kwargs)
        for cell in nb.cells:
            expected = cell.get("metadata", {}).get("expected_output")
            if cell.cell_type == "code" and expected is not None:
                cell.outputs = [
                    self._nbformat.v4.new_output("stream", name="stdout", text=expected)
                ]
                cell.execution_count = 1
        return nb


def pytest_configure(config):
    try:
        from nbval import plugin
    except ImportError:
        return
    if not isinstance(plugin.nbformat, _NbformatWithExpectedOutputs):
        plugin.nbformat = _NbformatWithExpectedOutputs(plugin.nbformat)
