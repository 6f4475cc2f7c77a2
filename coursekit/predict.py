""""Commit to your answer" before a demo reveals it.

    predict("Three upstream calls of 0.2, 0.3 and 0.25 s, one after another. The page takes...",
            ["about 0.3 s", "about 0.75 s", "about 1.5 s"])

In JupyterLab this shows radio buttons and a Commit button. Where widgets do not
render (GitHub, a static HTML page, a plain console) the same question shows as
text: write your answer down before you run the next cell.
"""
import html

_LETTERS = "abcdefghij"


class Prediction:
    def __init__(self, question, options):
        if len(options) < 2:
            raise ValueError("a prediction needs at least two options")
        self.question = question
        self.options = list(options)
        self.choice = None
        self._box = None

    # --- the interactive widget ------------------------------------------
    def widget(self):
        if self._box is None:
            import ipywidgets as w

            picker = w.RadioButtons(options=[(f"({_LETTERS[i]}) {o}", o) for i, o in enumerate(self.options)],
                                    value=None, layout=w.Layout(width="max-content"))
            button = w.Button(description="Commit", button_style="primary", icon="lock", disabled=True)
            status = w.HTML("<i>Pick an answer, then commit to it.</i>")

            def on_pick(change):
                button.disabled = change["new"] is None or self.choice is not None

            def on_commit(_):
                self.commit(picker.value)
                picker.disabled = button.disabled = True
                status.value = (f"Locked in: <b>{html.escape(str(self.choice))}</b>. "
                                "Now run the next cell and see.")

            picker.observe(on_pick, names="value")
            button.on_click(on_commit)
            self._box = w.VBox([w.HTML(f"<b>Predict:</b> {html.escape(self.question)}"), picker,
                                w.HBox([button, status])])
        return self._box

    def commit(self, option):
        if option not in self.options:
            raise ValueError(f"{option!r} is not one of the options")
        self.choice = option
        return self

    # --- how it displays ----------------------------------------------------
    def text(self):
        lines = [f"Predict: {self.question}"]
        lines += [f"  ({_LETTERS[i]}) {o}" for i, o in enumerate(self.options)]
        lines.append("Commit to an answer (write it down), then run the next cell.")
        return "\n".join(lines)

    def html(self):
        items = "".join(f"<li>({_LETTERS[i]}) {html.escape(o)}</li>" for i, o in enumerate(self.options))
        return (f"<div><b>Predict:</b> {html.escape(self.question)}<ul style='list-style:none'>{items}</ul>"
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

    def __repr__(self):
        return self.text()


def predict(question, options):
    return Prediction(question, options)
