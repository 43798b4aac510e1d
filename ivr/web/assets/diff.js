// The "Changes" toggle: the draft in the editor against the published text, as a unified diff inside the
// editor itself (deleted lines shown above the new ones), still editable.
import { getChunks, unifiedMergeView } from "@codemirror/merge";
import { EditorView } from "@codemirror/view";

export class ChangesToggle {
  /** `view`: the editor, configured with `compartment` (empty); `published`: "" for a new document. */
  constructor(view, compartment, published, toolbar) {
    this.view = view;
    this.published = published;
    this.compartment = compartment;
    this.on = false;
    this.button = document.createElement("button");
    this.button.type = "button";
    this.button.className = "changes-toggle";
    this.button.setAttribute("aria-pressed", "false");
    this.button.textContent = "Changes";
    this.button.title = "Show what this draft changes in the published version";
    this.button.addEventListener("click", () => this.toggle());
    this.summary = document.createElement("span");
    this.summary.className = "changes-summary";
    this.summary.setAttribute("role", "status");
    toolbar.append(this.summary, this.button);
    this.compartmentListener = EditorView.updateListener.of((update) => {
      if (this.on && update.docChanged) {
        this.summarize(update.state);
      }
    });
  }

  /** "No changes" / "3 changes" beside the button while the changes are shown. */
  summarize(state) {
    const found = getChunks(state);
    const count = found ? found.chunks.length : 0;
    this.summary.textContent = !this.on ? "" : count ? `${count} change${count === 1 ? "" : "s"} from the published version` : "No changes from the published version";
  }

  toggle() {
    this.on = !this.on;
    this.button.setAttribute("aria-pressed", String(this.on));
    this.view.dom.classList.toggle("showing-changes", this.on);
    const merge = unifiedMergeView({
      original: this.published,
      mergeControls: false,
      gutter: true,
      syntaxHighlightDeletions: false,
      collapseUnchanged: { margin: 3, minSize: 6 },
    });
    this.view.dispatch({ effects: this.compartment.reconfigure(this.on ? [merge, this.compartmentListener] : []) });
    this.summarize(this.view.state);
  }
}
