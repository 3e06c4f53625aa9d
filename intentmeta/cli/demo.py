"""``intentmeta demo``: serve the Gradio chat demo (``pip install 'intentmeta[demo]'``)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from intentmeta.cli.common import add_registry_options

ORDER = 30

#: The TCP ports a server may bind.
PORTS = range(1, 65536)

#: The repo's top-level ``demo/`` folder is installed under this name (see pyproject.toml), so
#: that it never takes the generic site-packages name ``demo``.
DEMO_PACKAGE = "intentmeta_demo"


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``demo``."""
    demo = commands.add_parser("demo", help="serve the Gradio chat demo")
    add_registry_options(demo, "registry to serve and save changes to")
    demo.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback)")
    demo.add_argument("--port", type=port_number, default=7860, help="port (default: 7860)")
    demo.add_argument(
        "--no-log",
        action="store_true",
        help="do not log chat messages for the Review tab (default: logged beside the registry)",
    )
    demo.set_defaults(func=run_demo)


def port_number(value: str) -> int:
    """``--port``'s type: an integer from 1 to 65535.

    Raises:
        argparse.ArgumentTypeError: Otherwise.
    """
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {value!r}") from None
    if port not in PORTS:
        raise argparse.ArgumentTypeError(f"must be from 1 to 65535, not {port}")
    return port


def demo_app() -> ModuleType:
    """The demo's ``app`` module: from this source checkout when run from one, else installed.

    Raises:
        RuntimeError: If the demo or gradio is not installed.
    """
    checkout = Path(__file__).resolve().parents[2]
    source = checkout / "demo" / "__init__.py"
    in_checkout = (checkout / "pyproject.toml").is_file() and source.is_file()
    if DEMO_PACKAGE not in sys.modules and in_checkout:  # editable install or PYTHONPATH
        spec = importlib.util.spec_from_file_location(
            DEMO_PACKAGE, source, submodule_search_locations=[str(source.parent)]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[DEMO_PACKAGE] = package
        spec.loader.exec_module(package)
    try:
        return importlib.import_module(f"{DEMO_PACKAGE}.app")
    except ModuleNotFoundError as error:
        if error.name not in (DEMO_PACKAGE, "gradio"):
            raise
        raise RuntimeError(
            f"the demo needs {error.name!r}: pip install 'intentmeta[demo]'"
        ) from None


def run_demo(args: argparse.Namespace) -> int:
    """Launch the demo until interrupted."""
    demo_app().launch(
        registry=args.registry,
        host=args.host,
        port=args.port,
        log_messages=not args.no_log,
        encoder=args.encoder,
    )
    return 0
