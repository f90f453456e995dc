"""Entry point: ``python -m punctual`` or the ``punctual-operator`` console script.

Runs the kopf operator with Punctual's handlers, across all namespaces unless
``--namespace`` is given. Every option also reads an environment variable, so
a Deployment can set them without changing the command.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import kopf

from punctual import logservice, metrics


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="punctual-operator", description="Run the Punctual operator.")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--all-namespaces", "-A", action="store_true", help="serve every namespace (the default)"
    )
    scope.add_argument(
        "--namespace", "-n", action="append", default=[],
        help="serve only this namespace (repeatable; kopf glob patterns such as 'team-*' work); "
        "env PUNCTUAL_NAMESPACES, comma-separated",
    )
    parser.add_argument(
        "--liveness", default=os.environ.get("PUNCTUAL_LIVENESS"),
        help="serve a liveness probe at this URL, e.g. http://0.0.0.0:8080/healthz (env PUNCTUAL_LIVENESS; default off)",
    )
    parser.add_argument(
        "--webhook", action="store_true", default=_env_flag("PUNCTUAL_WEBHOOK"),
        help="serve the validating admission webhook and register its ValidatingWebhookConfiguration "
        "(env PUNCTUAL_WEBHOOK=1; default off)",
    )
    parser.add_argument(
        "--webhook-host", default=os.environ.get("PUNCTUAL_WEBHOOK_HOST", "127.0.0.1"),
        help="address the API server reaches the webhook at, and the certificate's name (env PUNCTUAL_WEBHOOK_HOST)",
    )
    parser.add_argument(
        "--webhook-port", type=int, default=int(os.environ.get("PUNCTUAL_WEBHOOK_PORT", "9443")),
        help="TCP port of the webhook (env PUNCTUAL_WEBHOOK_PORT; default 9443)",
    )
    parser.add_argument(
        "--webhook-listen", default=os.environ.get("PUNCTUAL_WEBHOOK_LISTEN"),
        help="address the webhook listens on (env PUNCTUAL_WEBHOOK_LISTEN; default: --webhook-host)",
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", default=_env_flag("PUNCTUAL_VERBOSE"),
        help="log at DEBUG level, including kopf's own processing (env PUNCTUAL_VERBOSE=1)",
    )
    logservice.add_arguments(parser)
    metrics.add_arguments(parser)
    args = parser.parse_args(argv)
    args.log_options = logservice.options_from_args(parser, args)
    metrics.configure(parser, args)
    if not args.namespace and os.environ.get("PUNCTUAL_NAMESPACES"):
        args.namespace = [ns.strip() for ns in os.environ["PUNCTUAL_NAMESPACES"].split(",") if ns.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        # kopf logs every watch event and handler call at INFO/DEBUG; Punctual logs its own changes.
        logging.getLogger("kopf").setLevel(logging.WARNING)
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    from punctual import handlers  # noqa: F401  (registers the handlers)

    logservice.configure(args.log_options)

    if args.webhook:
        from punctual import webhook

        webhook.enable(host=args.webhook_host, port=args.webhook_port, listen=args.webhook_listen)

    kopf.run(
        clusterwide=not args.namespace,
        namespaces=args.namespace,
        standalone=True,
        liveness_endpoint=args.liveness,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
