"""Starting a suite folder.

`sparsebench new` (a scaffold) and `sparsebench init` (from a write-up's tables).
"""
