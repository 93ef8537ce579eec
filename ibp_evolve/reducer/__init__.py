"""The reducer: family files to reductions — the physics and the linear algebra.

family (TOML) -> templates (symbolic IBP/LI) -> sectors (zero sectors, measures) -> seeding
(Laporta boxes) -> ordering -> system (numeric rows mod p) -> solver (numba elimination) ->
reduction (what reduced, what was used) -> masters, exact (multi-prime rational reduction);
symmetries (sector mappings) and symmetry_rows (their relations as equations) feed masters;
kira imports Kira's family files.
Nothing here imports from the rest of ibp_evolve.
"""
