"""The polling engine: ``service`` polls one resource once, ``scheduler`` runs due pollers."""
