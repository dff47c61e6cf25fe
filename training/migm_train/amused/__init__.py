"""aMUSEd (amused/amused-256, amused/amused-512): the first text-to-image family. docs/amused.md."""
