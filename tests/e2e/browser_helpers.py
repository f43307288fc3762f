"""What the browser tests share besides fixtures."""

IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def wait_idle(page, timeout: float = 120_000) -> None:
    """Streamlit's own e2e tests wait for this: the script has finished its run."""
    page.wait_for_selector(IDLE, timeout=timeout)


def wait_for_chart_title(page, text: str, timeout: float = 120_000) -> None:
    """Plotly draws a chart after the script run ends: wait for the title itself, not only for the run."""
    page.wait_for_function("t => [...document.querySelectorAll('.gtitle')].some(e => e.textContent.includes(t))",
                           arg=text, timeout=timeout)
