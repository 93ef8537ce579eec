"""A Dask cluster to work on: a running scheduler (``--dask tcp://HOST:8786``) or a local
cluster this process starts (``--dask-local N``), for ``evolve``'s candidates and ``reduce
--analytic``'s samples alike.  dask[distributed] is optional: imported here, on use."""

from __future__ import annotations


class DaskUnavailable(RuntimeError):
    """dask[distributed] is not installed, or the scheduler cannot be reached (exit 3)."""


class DaskCluster:
    """A connected ``distributed.Client`` (``.client``) and, for a local cluster, the cluster
    it started; ``close()`` (or leaving the ``with`` block) shuts down what was started here."""

    def __init__(self, address: str | None = None, local_workers: int | None = None,
                 connect_timeout: float = 10.0):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise DaskUnavailable("the Dask backend needs dask[distributed]: "
                                  "pip install 'dask[distributed]'") from None
        self.cluster = None
        if address:
            try:
                self.client = Client(address, timeout=connect_timeout)
            except (OSError, TimeoutError, ValueError) as exc:
                raise DaskUnavailable(f"--dask {address}: cannot reach the Dask scheduler "
                                      f"({type(exc).__name__}: {exc})"[:300]) from None
            self.description = f"Dask cluster at {address}"
        else:
            n = max(1, int(local_workers or 1))
            # one thread per worker process: the numba solver and numpy hold the GIL's share
            self.cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=40)
            self.client = Client(self.cluster)
            self.description = f"local Dask cluster of {n} workers"

    @property
    def n_workers(self) -> int:
        return max(1, len(self.client.scheduler_info().get("workers", {})) or 1)

    def __enter__(self) -> "DaskCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()
