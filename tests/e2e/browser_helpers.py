"""What the browser tests share besides fixtures."""

IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def wait_idle(page, timeout: float = 120_000) -> None:
    """Streamlit's own e2e tests wait for this: the script has finished its run."""
    page.wait_for_selector(IDLE, timeout=timeout)
