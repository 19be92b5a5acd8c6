"""Licence-plate reading: country grammars, plate detection, OCR, multi-frame voting.

Entry points: :func:`plates.grammars.parse_plate` (text -> :class:`plates.types.PlateRead`) and
:meth:`plates.reader.PlateReader.read_track` (vehicle crops -> :class:`plates.types.PlateResult`).
"""
