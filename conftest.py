"""Test-session set-up shared by the unit tests and the notebook runs (nbval, papermill).

- One OpenMP thread unless the caller chose otherwise: on a busy 2-core machine two spinning
  threads per process made notebook 01 ten times slower, and one thread keeps the recorded
  numbers the same from run to run. Kernels started by nbval and papermill inherit it, and so
  do pytest-xdist's workers (``make test`` uses one per core).
- nbval compares a cell marked ``# NBVAL_CHECK_OUTPUT`` with the notebook's stored output, but
  the course stores notebooks without outputs. The expected text lives instead in the cell's
  metadata (``"expected_output"``), next to the code that prints it, and is handed to nbval as
  the stored output when nbval reads the notebook.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")  # the venv's kernel, not a user-wide one
# nbval reads a cell's iopub messages only after the cell has finished; a progress bar redrawn
# 10 times a second for a minute-long training run overflows the kernel's iopub queue (1,000
# messages), the final "idle" message is dropped and nbval fails the cell with "Timeout of 5
# seconds exceeded waiting for output" (seen on notebook 07's 1,500-step DCGAN). tqdm reads its
# defaults from TQDM_* variables: redraw at most every 5 s under test.
os.environ.setdefault("TQDM_MININTERVAL", "5")


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
