""""Commit to your answer" before a demo reveals it, and see whether your prediction held.

In the cell before a demo:

    waves = coursekit.predict("4 workers, 12 clients at once, each page takes 0.2 s. When does the last "
                              "client get its page?", ["After about 0.2 s", "After about 0.6 s", "After about 2.4 s"])

In JupyterLab this shows the question (Markdown: `code`, **bold**, [links](...)) with radio buttons
and a Commit button. Where widgets do not render (GitHub, a static HTML page, a plain console) the
same question shows as text: write your answer down before you run the next cell.

The demo cell measures, asserts what it measured, then says which option that was:

    waves.reveal("After about 0.6 s")            # an option, or the unique start of one
    waves.reveal(lambda option: ...)             # or a test that exactly one option passes

The reveal shows the right option and whether the committed answer held; your progress file keeps
what you predicted and whether the demo agreed (`make progress` counts them per chapter). Only a
prediction committed before its answer was shown counts, and only its first reveal. With nothing
committed (Run All, nbval), the reveal shows the right option and says so: the same every run.

`predict(question, options)` alone still works as the last line of a cell: it shows the question
once, whether or not its result is kept in a name.
"""
import html
import re

from . import progress

_LETTERS = "abcdefghij"
_WAIT = "Pick an answer, then commit to it."

# Marks drawn as inline SVG: no emoji font needed (JupyterLab on Linux often has none).
_TICK = ('<svg width="1em" height="1em" viewBox="0 0 16 16" aria-hidden="true" style="vertical-align:-0.15em">'
         '<path d="M3 8.5l3.3 3.3L13 4.5" fill="none" stroke="#1a7f37" stroke-width="2.4" '
         'stroke-linecap="round" stroke-linejoin="round"/></svg>')
_CROSS = ('<svg width="1em" height="1em" viewBox="0 0 16 16" aria-hidden="true" style="vertical-align:-0.15em">'
          '<path d="M4 4l8 8M12 4l-8 8" fill="none" stroke="#cf222e" stroke-width="2.4" '
          'stroke-linecap="round"/></svg>')


# --- Markdown in questions ----------------------------------------------------------------
def markdown_html(text):
    """Inline Markdown (`code`, **bold**, *em*, [links](url)) as safe HTML: raw HTML is escaped."""
    try:
        import mistune  # nbconvert's Markdown renderer, installed with Jupyter
    except ImportError:
        return html.escape(text)
    rendered = mistune.create_markdown(escape=True)(text).strip()
    if rendered.startswith("<p>") and rendered.endswith("</p>") and rendered.count("<p>") == 1:
        rendered = rendered[3:-4]
    # Links open beside the notebook, never in place of it.
    return rendered.replace("<a href=", '<a target="_blank" rel="noopener" href=')


def markdown_plain(text):
    """The same text for a plain label (radio buttons): the Markdown marks taken out."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    return re.sub(r"`([^`]*)`|\*\*([^*]+)\*\*", lambda m: m.group(1) if m.group(1) is not None else m.group(2), text)


def _in_kernel():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


class Prediction:
    def __init__(self, question, options):
        if len(options) < 2:
            raise ValueError("a prediction needs at least two options")
        if len(set(options)) != len(options):
            raise ValueError("a prediction's options must differ")
        self.question = question
        self.options = list(options)
        self.choice = None      # the committed option
        self.late = False       # committed after the answer was shown: not counted
        self.answer = None      # the option the demo revealed
        self._box = self._status = self._picker = None
        self._shown_in = None   # the cell execution that already displayed it

    # --- the interactive widget ------------------------------------------
    def widget(self):
        if self._box is None:
            import ipywidgets as w

            labels = [(f"({_LETTERS[i]}) {markdown_plain(o)}", o) for i, o in enumerate(self.options)]
            picker = w.RadioButtons(options=labels, value=None, layout=w.Layout(width="max-content"))
            button = w.Button(description="Commit", button_style="primary", icon="lock", disabled=True)
            status = w.HTML(f"<i>{_WAIT}</i>")

            def on_pick(change):
                button.disabled = change["new"] is None or self.choice is not None

            def on_commit(_):
                self.commit(picker.value)
                picker.disabled = button.disabled = True

            picker.observe(on_pick, names="value")
            button.on_click(on_commit)
            self._picker, self._status = picker, status
            self._box = w.VBox([w.HTML(f"<b>Predict:</b> {markdown_html(self.question)}"), picker,
                                w.HBox([button, status])])
        return self._box

    def commit(self, option):
        if option not in self.options:
            raise ValueError(f"{option!r} is not one of the options")
        if self.choice is not None:
            return self  # one commit per question: the first one stands
        self.choice = option
        self.late = self.answer is not None
        if not self.late:
            progress.record_prediction(self.question, option)
        self._show_status()
        return self

    # --- the demo's answer -------------------------------------------------
    def reveal(self, answer):
        """Say which option the demo showed: an option, its unique start, or a test one option passes."""
        self.answer = self._option(answer)
        if self.choice is not None and not self.late:
            progress.record_outcome(self.question, self.choice, self.answer)
        self._show_status()
        outcome = Reveal(self)
        shell = _in_kernel()
        if shell is None:
            print(outcome.text())
        else:
            from IPython.display import display

            display(outcome._repr_mimebundle_(), raw=True)

    def _option(self, answer):
        if callable(answer):
            found = [o for o in self.options if answer(o)]
            what = "the test given to reveal()"
        elif answer in self.options:
            return answer
        else:
            found = [o for o in self.options if isinstance(answer, str) and o.startswith(answer)]
            what = repr(answer)
        if len(found) != 1:
            raise ValueError(f"{what} matches {len(found)} of the options, not exactly one: {self.options}")
        return found[0]

    @property
    def held(self):
        """True or False once the demo revealed a counted prediction; None otherwise."""
        if self.answer is None or self.choice is None or self.late:
            return None
        return self.choice == self.answer

    def label(self, option):
        return f"({_LETTERS[self.options.index(option)]}) {option}"

    def _show_status(self):
        if self._status is None:
            return
        choice = markdown_html(self.label(self.choice)) if self.choice is not None else ""
        if self.choice is None:
            text = f"<i>{_WAIT}</i>" if self.answer is None else "<i>The answer is shown below.</i>"
        elif self.late:
            text = f"Locked in: <b>{choice}</b>, after the answer was shown below: not counted."
        elif self.answer is None:
            text = f"Locked in: <b>{choice}</b>. Now run the next cell and see."
        elif self.held:
            text = f"{_TICK} Locked in: <b>{choice}</b>. It held."
        else:
            text = f"{_CROSS} Locked in: <b>{choice}</b>. The demo showed {markdown_html(self.label(self.answer))}."
        self._status.value = text
        if self.answer is not None and self._picker is not None:
            self._picker.disabled = True

    # --- how it displays ----------------------------------------------------
    def text(self):
        lines = [f"Predict: {self.question}"]
        lines += [f"  ({_LETTERS[i]}) {o}" for i, o in enumerate(self.options)]
        lines.append("Commit to an answer (write it down), then run the next cell.")
        return "\n".join(lines)

    def html(self):
        items = "".join(f"<li>({_LETTERS[i]}) {markdown_html(o)}</li>" for i, o in enumerate(self.options))
        return (f"<div><b>Predict:</b> {markdown_html(self.question)}<ul style='list-style:none'>{items}</ul>"
                "<i>Commit to an answer (write it down), then run the next cell.</i></div>")

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": self.text(), "text/html": self.html()}
        try:
            widget_bundle = self.widget()._repr_mimebundle_()
        except Exception:  # no ipywidgets, or no kernel comm: the text is the fallback
            return bundle
        view = widget_bundle.get("application/vnd.jupyter.widget-view+json")
        if view:
            bundle["application/vnd.jupyter.widget-view+json"] = view
        return bundle

    def _ipython_display_(self):
        # predict() already showed it in this cell (the call was the cell's last line): once is enough.
        shell = _in_kernel()
        if shell is not None and self._shown_in == shell.execution_count:
            return
        self._show()

    def _show(self):
        from IPython.display import display

        shell = _in_kernel()
        self._shown_in = shell.execution_count if shell is not None else None
        display(self._repr_mimebundle_(), raw=True)

    def __repr__(self):
        return self.text()


class Reveal:
    """What a demo's reveal shows: the right option, and how the committed prediction fared."""

    def __init__(self, prediction):
        self.prediction = prediction

    def parts(self):
        p = self.prediction
        answer = p.label(p.answer)
        if p.held is True:
            return "HELD", _TICK, f"You predicted {answer}, and the demo showed it."
        if p.held is False:
            return "MISSED", _CROSS, f"You predicted {p.label(p.choice)}; the demo showed {answer}."
        if p.late:
            return "ANSWER", "", f"The demo showed {answer}. (Committed after the answer was shown: not counted.)"
        return "ANSWER", "", f"The demo showed {answer}. (No prediction was committed above.)"

    def text(self):
        word, _, sentence = self.parts()
        return f"{word} · {sentence}"

    def html(self):
        word, mark, sentence = self.parts()
        colour = {"HELD": "#1a7f37", "MISSED": "#cf222e"}.get(word, "#57606a")
        return (f"<div style='border-left:4px solid {colour};padding:4px 10px'>{mark}{' ' if mark else ''}"
                f"<b>{word}</b> · {markdown_html(sentence)}</div>")

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": self.text(), "text/html": self.html()}

    def __repr__(self):
        return self.text()


def predict(question, options):
    """Show a question to commit to before the demo; keep the result to reveal the answer later."""
    prediction = Prediction(question, options)
    if _in_kernel() is not None:
        prediction._show()
    return prediction
