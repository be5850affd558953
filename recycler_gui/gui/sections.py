"""A section of settings that folds away under its title, and remembers whether it was open (QSettings).

Folded, the title line also says what the section is set to, so nothing hidden is a surprise.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QSizePolicy, QToolButton, QVBoxLayout, QWidget


class CollapsibleSection(QWidget):
    """A title button with an arrow over ``content``; the open state is kept under ``sections/<key>``."""

    def __init__(self, title: str, content: QWidget, settings: QSettings, key: str) -> None:
        super().__init__()
        self.title, self.content, self.settings = title, content, settings
        self.settings_key = f"sections/{key}"
        self.summary: Callable[[], str] | None = None
        self.header = _TitleButton(checkable=True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.header.setAutoRaise(True)
        self.header.setStyleSheet("QToolButton { font-weight: bold; text-align: left; }")
        self.frame = QFrame()
        self.frame.setFrameShape(QFrame.Shape.StyledPanel)
        inner = QVBoxLayout(self.frame)
        inner.setContentsMargins(6, 4, 6, 4)
        inner.addWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.frame)
        open_ = self.settings.value(self.settings_key, False, type=bool)
        self.header.setChecked(bool(open_))
        self.header.toggled.connect(self._toggled)
        self._show(bool(open_))

    @property
    def expanded(self) -> bool:
        return self.header.isChecked()

    def set_expanded(self, expanded: bool) -> None:
        self.header.setChecked(expanded)

    def set_summary(self, summary: Callable[[], str]) -> None:
        """What the folded title line says after the title (called again by ``refresh``)."""
        self.summary = summary
        self.refresh()

    def refresh(self) -> None:
        said = self.summary() if self.summary is not None and not self.expanded else ""
        self.header.set_full_text(f"{self.title}: {said}" if said else self.title)
        self.header.setToolTip(f"{self.title}: {said}" if said else "")

    def _toggled(self, expanded: bool) -> None:
        self.settings.setValue(self.settings_key, expanded)
        self._show(expanded)

    def _show(self, expanded: bool) -> None:
        self.header.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self.frame.setVisible(expanded)
        self.refresh()


class _TitleButton(QToolButton):
    """A tool button whose text is cut with an ellipsis to its width, so a long summary never widens the panel."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        self.full_text = ""
        self.setMinimumWidth(60)

    def set_full_text(self, text: str) -> None:
        self.full_text = text
        self._elide()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = self.width() - self.iconSize().width() - 16
        self.setText(self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideRight, max(room, 20)))

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(self.minimumWidth(), hint.height())
