"""Start a job (`n`): pick a type, fill in its parameters, confirm.

The form is built from the type's declared parameters (name, required, default, help).
Validation is the service's own (`Service.submit` raises BadInput naming the problem),
shown inline so the user can fix it without losing what they typed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from jobdash.core.model import BadInput, Job, JobType, Refused
from jobdash.present.text import sanitize

if TYPE_CHECKING:
    from jobdash.core.service import Service


class StartJobScreen(ModalScreen[Job | None]):
    """Dismisses with the new Job, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="start.cancel"),
        Binding("ctrl+s", "submit", "Start", id="start.submit"),
    ]

    DEFAULT_CSS = """
    StartJobScreen {
        #start-title { margin-bottom: 1; }
        #start-body { height: 1fr; }
        #start-types { width: 34; height: 1fr; margin-right: 2; }
        #start-form { width: 1fr; height: 1fr; }
        #start-form .type-description { margin-bottom: 1; color: $text-muted; }
        #start-form .param-label { margin-top: 1; }
        #start-form .param-help { color: $text-muted; }
        #start-error { display: none; color: $error; margin-top: 1; height: auto; }
    }
    """

    def __init__(self, service: Service, selected: str | None = None) -> None:
        super().__init__()
        self.service = service
        self.types: list[JobType] = sorted(service.types.values(), key=lambda t: t.name)
        self.selected = selected if selected in service.types else None
        self.job_type: JobType | None = None
        self._inputs: dict[str, Input] = {}
        self._busy = False
        self._generation = 0
        # Held while the form is (re)built: a submit waits for the form the user sees.
        self._building = asyncio.Lock()

    def compose(self) -> ComposeResult:
        with Vertical(id="start-dialog", classes="dialog"):
            yield Static(Text("Start a job", style="bold"), id="start-title")
            with Horizontal(id="start-body"):
                options = [
                    Option(
                        Text.assemble(sanitize(jt.name), "\n", (sanitize(jt.description), "dim")),
                        id=jt.name,
                    )
                    for jt in self.types
                ]
                yield OptionList(*options, id="start-types")
                # Not a stop of its own for Tab: the first Tab goes to the first field.
                yield VerticalScroll(id="start-form", can_focus=False)
            yield Static("", id="start-error")
            with Horizontal(classes="buttons"):
                yield Button("Start", id="start", variant="primary")
                yield Button("Cancel", id="cancel")

    async def on_mount(self) -> None:
        types = self.query_one("#start-types", OptionList)
        if not self.types:
            self._show_error("no job types are defined (add [types.NAME] to jobdash.toml)")
            self.query_one("#start", Button).disabled = True
            return
        index = 0
        if self.selected is not None:
            index = [jt.name for jt in self.types].index(self.selected)
        types.highlighted = index
        types.focus()
        await self._sync_form()

    @on(OptionList.OptionHighlighted, "#start-types")
    async def _type_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        await self._sync_form()

    async def _sync_form(self) -> None:
        """Show the form of the type highlighted now. Highlight events may arrive late and
        out of order (the list's own first highlight comes after ours): the list is asked,
        not the event, so the form never flips to a type the user left."""
        index = self.query_one("#start-types", OptionList).highlighted
        if index is None or not self.types:
            return
        jt = self.types[index]
        if self.job_type is None or self.job_type.name != jt.name:
            await self._build_form(jt)

    @on(OptionList.OptionSelected, "#start-types")
    def _type_selected(self, event: OptionList.OptionSelected) -> None:
        """enter on a type: on to its first parameter (or start it if it has none)."""
        if self._inputs:
            next(iter(self._inputs.values())).focus()
        else:
            self.query_one("#start", Button).focus()

    async def _build_form(self, jt: JobType) -> None:
        async with self._building:
            await self._build_form_now(jt)

    async def _build_form_now(self, jt: JobType) -> None:
        self.job_type = jt
        self._show_error("")
        self._generation += 1
        form = self.query_one("#start-form", VerticalScroll)
        await form.remove_children()
        widgets: list[Static | Label | Input] = [
            Static(Text(sanitize(jt.description or jt.name)), classes="type-description")
        ]
        self._inputs = {}
        if not jt.params:
            widgets.append(Static(Text("This type takes no parameters.", style="dim")))
        for n, param in enumerate(jt.params):
            label = Text(sanitize(param.name), style="bold")
            if param.required:
                label.append(" (required)", style="dim")
            widgets.append(Label(label, classes="param-label"))
            default = param.default or ""
            placeholder = "required" if param.required else ""
            if sanitize(default) != default:
                # Shown inert as a hint; left empty, the field falls back to the default.
                default, placeholder = "", f"default: {sanitize(default)}"
            field = Input(
                value=default,
                placeholder=placeholder,
                id=f"param-{self._generation}-{n}",
                classes="param-input",
            )
            self._inputs[param.name] = field
            widgets.append(field)
            if param.help:
                widgets.append(Static(Text(sanitize(param.help)), classes="param-help"))
        await form.mount_all(widgets)

    def values(self) -> dict[str, str]:
        """The parameters as typed; an emptied optional field falls back to its default."""
        return {name: field.value for name, field in self._inputs.items() if field.value != ""}

    @on(Input.Submitted, ".param-input")
    def _field_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        fields = list(self._inputs.values())
        position = fields.index(event.input)
        if position + 1 < len(fields):
            fields[position + 1].focus()
        else:
            self.action_submit()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "start":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        """Start the job (`ctrl+s` wherever the focus is, the Start button, enter in the
        last field): the type and values the form shows, or an error that says what is
        missing."""
        if self._busy:
            return
        self._busy = True
        self._submit()

    @work(group="start-job")
    async def _submit(self) -> None:
        try:
            # The form may be being built (the dialog just opened, the highlight just
            # moved): wait for the one the user sees, then read it.
            await self._sync_form()
            async with self._building:
                job_type, values = self.job_type, self.values()
            if job_type is None:
                self._show_error("no job type to start (add [types.NAME] to jobdash.toml)")
                return
            job = await self.service.submit(job_type.name, values)
        except (BadInput, Refused) as e:
            self._show_error(str(e))
            return
        finally:
            self._busy = False
        self.dismiss(job)

    def _show_error(self, message: str) -> None:
        error = self.query_one("#start-error", Static)
        error.update(Text(sanitize(message)))
        error.display = bool(message)
