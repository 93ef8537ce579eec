"""The Dask options of the verbs that work in parallel (``evolve``, ``reduce --analytic``)."""

from __future__ import annotations


class DaskOptionError(ValueError):
    """--dask and --dask-local given together, or with a count below 1 (exit status 2)."""


def add_dask_options(parser, work: str) -> None:
    """``--dask ADDRESS`` and ``--dask-local N``; ``work`` says what runs there ("evaluate")."""
    parser.add_argument("--dask", metavar="ADDRESS",
                        help=f"{work} on a Dask distributed cluster, e.g. tcp://host:8786")
    parser.add_argument("--dask-local", type=int, metavar="N",
                        help=f"start a local Dask cluster of N workers and {work} on it")


def check_dask_options(args) -> None:
    """Refuse what no cluster could do: both options, or a local cluster of no workers."""
    if args.dask and args.dask_local:
        raise DaskOptionError("--dask and --dask-local exclude each other")
    if args.dask_local is not None and args.dask_local < 1:
        raise DaskOptionError(f"--dask-local {args.dask_local}: expected a positive number "
                              "of workers")


def dask_cluster(args):
    """The cluster the options ask for (a :class:`~ibp_evolve.runs.dask_cluster.DaskCluster`),
    or None when they ask for none."""
    if not (args.dask or args.dask_local):
        return None
    from ibp_evolve.runs.dask_cluster import DaskCluster
    return DaskCluster(address=args.dask, local_workers=args.dask_local)
