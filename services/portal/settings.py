"""Settings of the portal (environment variables, see the README)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.runtime.settings import ServiceSettings

REPO_ROOT = Path(__file__).resolve().parents[2]


class PortalSettings(ServiceSettings):
    service_name: str = "portal"
    port: int = 8000

    actors_url: str = "http://127.0.0.1:8001"
    offers_url: str = "http://127.0.0.1:8002"
    matching_url: str = "http://127.0.0.1:8003"
    agreements_url: str = "http://127.0.0.1:8004"
    governance_url: str = "http://127.0.0.1:8005"
    notifications_url: str = "http://127.0.0.1:8006"
    projects_url: str = "http://127.0.0.1:8007"
    # The portal's own address, as people reach it (return address of sign-in links).
    public_url: str = "http://127.0.0.1:8000"
    # Encrypts the session cookie (a Fernet key: 32 url-safe base64 bytes). Empty: a key made
    # at start-up, so sessions end when the portal restarts; set it with several replicas.
    session_key: str = ""
    session_max_age_s: int = Field(default=8 * 3600, ge=60)
    # Send the cookie over HTTPS only; off for the plain-HTTP development stack.
    cookie_secure: bool = False
    # Map tiles; empty: the outline base layer alone.
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tile_attribution: str = "© les contributeurs d'OpenStreetMap"
    # Where `npm ci` put the browser libraries the portal serves itself.
    assets_dir: Path = REPO_ROOT / "node_modules"
    upstream_timeout_s: float = Field(default=10.0, gt=0)
