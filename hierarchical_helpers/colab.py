"""The end of every notebook's Colab set-up cell: say so when the runtime must be restarted.

Colab's kernel has imported some packages before the first cell runs (numpy and PIL among them).
If `%pip install` replaced one of those, the running kernel still holds the old version, and only a
restart loads the new one. The set-up cells never ask for such a package, so this normally prints
nothing; it is the safety net for the day Colab's own versions change. Standard library only: it
runs before anything else is imported.
"""
from __future__ import annotations

import sys
from importlib import metadata


def replaced_modules(modules=None) -> list[str]:
    """Imported top-level packages whose installed version is no longer the one in memory."""
    modules = sys.modules if modules is None else modules
    distributions = metadata.packages_distributions()
    replaced = []
    for name, module in list(modules.items()):
        loaded = getattr(module, "__version__", None)
        if "." in name or not isinstance(loaded, str) or name not in distributions:
            continue
        for distribution in distributions[name]:
            try:
                installed = metadata.version(distribution)
            except metadata.PackageNotFoundError:
                continue
            if installed != loaded:
                replaced.append(f"{distribution} {loaded} -> {installed}")
    return sorted(set(replaced))


def check_restart(modules=None) -> bool:
    """Print one sentence asking for a restart if the installation replaced an imported package."""
    replaced = replaced_modules(modules)
    if replaced:
        print("Restart the runtime now (Runtime > Restart session) and run the notebook again from the "
              f"top, because the installation replaced packages that were already loaded ({', '.join(replaced)}).")
    return bool(replaced)
