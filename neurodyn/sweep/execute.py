"""Where the chunks of a sweep are computed: in this process, or on a Dask cluster (the job
travels to each worker once; results stream back and only the client writes the file)."""

from __future__ import annotations

from ..errors import NeurodynError


def _compute_chunk_remote(job, index: int) -> tuple[int, dict]:
    return index, job.compute(index)


def execute(job, pending: list[int], executor):
    if executor is None:
        for index in pending:
            yield index, job.compute(index)
        return
    from distributed import as_completed

    shared = executor.scatter(job, broadcast=True)  # the model travels to each worker once, not per chunk
    futures = [executor.submit(_compute_chunk_remote, shared, index, retries=2, pure=False) for index in pending]
    for future in as_completed(futures):
        try:
            yield future.result()
        except Exception as e:  # a chunk that failed on every retry
            raise NeurodynError(f"a sweep chunk failed on the cluster: {e}") from None


def connect(address: str, timeout: float = 5.0):
    """A ``dask.distributed.Client`` for ``address``, or a clear error if it cannot be reached."""
    from distributed import Client

    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError) as e:
        raise NeurodynError(f"cannot reach the Dask scheduler at {address}: {e}") from None
