"""tradetel's start-up hook.

``tradetel-run`` puts this folder first on ``PYTHONPATH``, so Python imports this module while
it starts, before the program's ``__main__``: tradetel is set up from the environment here,
then the program's own ``sitecustomize`` (the next one on the path), if any, runs as it would
have without tradetel. A Python without tradetel installed (a subprocess running another
interpreter) only gets the second part.
"""

import os
import sys


def _tradetel_start(folder: str) -> None:
    try:
        from tradetel.auto._start import start_from_site
    except Exception:  # another interpreter, without tradetel: run the program as it is
        return
    start_from_site(folder)


def _run_next_sitecustomize(folder: str) -> None:
    """Run the first ``sitecustomize`` on the path after this one (the program's own)."""
    import importlib.machinery
    import importlib.util

    skip = {folder}
    try:  # opentelemetry-instrument's hook would set everything up a second time
        from opentelemetry.instrumentation import auto_instrumentation

        skip.add(os.path.dirname(os.path.abspath(auto_instrumentation.__file__)))
    except Exception:
        pass
    path = [p for p in sys.path if os.path.abspath(p or os.curdir) not in skip]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module  # `import sitecustomize` gives the program's own
    spec.loader.exec_module(module)


def _main() -> None:
    folder = os.path.dirname(os.path.abspath(__file__))
    _tradetel_start(folder)
    _run_next_sitecustomize(folder)


_main()
