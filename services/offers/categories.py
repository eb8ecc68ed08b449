"""GET /v1/categories: the category taxonomy with its French labels, parents and units.

Public reference data, like the list of territories: it is read before registering and before
describing an asset or a need, so it asks for no token (a token, if sent, is not looked at).
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from contracts import taxonomy
from contracts.taxonomy import Unit

categories_router = APIRouter(prefix="/categories", tags=["categories"])


class UnitOut(BaseModel):
    code: Unit
    label: str = Field(description="French label.")


class CategoryOut(BaseModel):
    code: str = Field(description="Stable code, as in `category` of assets, offers and needs.")
    label: str = Field(description="French label.")
    parent: str | None = Field(description="Code of the broader category; null for a root.")
    units: list[UnitOut] = Field(
        description="Units a capacity or quantity of this category may be expressed in "
        "(inherited from the nearest ancestor that declares some)."
    )


class Taxonomy(BaseModel):
    categories: list[CategoryOut] = Field(description="Every category, parents before children.")


def _taxonomy() -> Taxonomy:
    return Taxonomy(
        categories=[
            CategoryOut(
                code=node.code,
                label=node.label,
                parent=node.parent,
                units=[
                    UnitOut(code=unit, label=taxonomy.UNIT_LABELS[unit])
                    for unit in taxonomy.units_for(node.code)
                ],
            )
            for node in taxonomy.CATEGORIES.values()
        ]
    )


TAXONOMY = _taxonomy()  # reference data: built once


@categories_router.get("", summary="The category taxonomy, with French labels and units")
async def list_categories() -> Taxonomy:
    return TAXONOMY
