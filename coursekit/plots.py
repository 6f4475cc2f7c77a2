"""Plots for the performance lab: sweeps against the theory of each design.

    plots.sweep({"gunicorn, 4 workers": pool_bench, "uvicorn, async view": async_bench},
                theory={"gunicorn, 4 workers": lab.pool_theory(4, 0.1), "uvicorn, async view": lab.async_theory(0.1)},
                latency=0.1)

Five panels share the x axis (clients, log scale): throughput, with each design's theory as a
dashed line in its colour (and any `ceilings` as dotted lines); p50 and p99 latency, with the
latency theory gives (Little's law: clients / theoretical throughput, never below one service
time); the server's threads; its resident memory. Every point is a measurement, every dashed
line arithmetic: the gap between them is what to explain.

    plots.bars({"design": requests_per_second, ...}, title=..., unit="requests/s", ceiling=50)

Figures are shown as palette PNGs (a quarter of the usual size): notebooks stay small, and no
output is big enough to make the kernel's messaging start a helper thread of its own.
"""
import io

COLOURS = ["#3b76c4", "#e8a33d", "#5a9e4b", "#b455a0", "#d9534f", "#6c757d"]
TITLES = {"throughput": "requests/s (dashed: theory)", "p50": "p50 latency, s (dashed: theory)",
          "p99": "p99 latency, s", "threads": "server threads (peak)", "memory": "server memory, MB (peak RSS)"}
LOG = {"throughput", "p50", "p99", "threads"}


def sweep(benches, *, theory=None, latency=None, ceilings=None, title=None,
          panels=("throughput", "p50", "p99", "threads", "memory"), show=True):
    """Draw sweeps (label -> coursekit.bench.Bench) against theory (label -> clients -> requests/s).

    latency: the service time, the floor under every latency; ceilings: label -> requests/s, a
    flat dotted line in that design's colour (a CPU or lock ceiling measured or computed apart).
    show=False returns the figure instead of showing it.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    theory, ceilings = theory or {}, ceilings or {}
    fig, axes = plt.subplots(1, len(panels), figsize=(3.1 * len(panels), 3.3))
    axes = [axes] if len(panels) == 1 else list(axes)
    ticks = sorted({c for table in benches.values() for c in table.clients})
    xs = _dense(ticks)
    for index, (label, table) in enumerate(benches.items()):
        colour = COLOURS[index % len(COLOURS)]
        line = theory.get(label)
        for ax, panel in zip(axes, panels):
            ys = {"throughput": [p.throughput for p in table], "p50": [p.p(50) for p in table],
                  "p99": [p.p(99) for p in table], "threads": [max(p.threads, 1) for p in table],
                  "memory": [p.memory / 2**20 for p in table]}[panel]
            ax.plot(table.clients, ys, "o-", color=colour, label=label)
            if line is not None and panel == "throughput":
                ax.plot(xs, [line(x) for x in xs], "--", color=colour, alpha=0.6)
            if line is not None and panel == "p50":
                ax.plot(xs, [max(latency or 0.0, x / line(x)) for x in xs], "--", color=colour, alpha=0.6)
            if label in ceilings and panel == "throughput":
                ax.axhline(ceilings[label], linestyle=":", color=colour, alpha=0.9)
    for ax, panel in zip(axes, panels):
        ax.set_xscale("log")
        if panel in LOG:
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1, 2, 5)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
        else:
            ax.set_ylim(bottom=0)
            ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("clients")
        ax.set_title(TITLES[panel], fontsize=9)
        ax.grid(alpha=0.3, which="major")
    axes[0].legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return _show(fig) if show else fig


def bars(values, *, title, unit, ceiling=None, ceiling_label="theory", show=True):
    """One bar per design (label -> number), with an optional dashed ceiling from theory."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(values) + 1.4))
    labels = list(values)
    ax.barh(range(len(labels)), [values[k] for k in labels],
            color=[COLOURS[i % len(COLOURS)] for i in range(len(labels))])
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    if ceiling is not None:
        ax.axvline(ceiling, linestyle="--", color="#333", alpha=0.7, label=ceiling_label)
        ax.set_xlim(0, max(ceiling, *values.values()) * 1.1)
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel(unit)
    ax.set_title(title, fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _show(fig) if show else fig


def png(fig, colors=128):
    """The figure as a palette PNG (bytes): looks the same, a quarter of the size."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    image = Image.open(buffer).convert("RGB").quantize(colors=colors)
    out = io.BytesIO()
    image.save(out, format="png", optimize=True)
    return out.getvalue()


def _show(fig):
    import matplotlib.pyplot as plt

    data = png(fig)
    plt.close(fig)
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        return None
    if get_ipython() is not None:
        display(Image(data))
    return None


def _dense(clients):
    low, high = min(clients), max(clients)
    steps = 60
    return [low * (high / low) ** (i / steps) for i in range(steps + 1)] if high > low else [low]
