"""Notices: the fine notice of a confirmed case (PDF with QR payment reference), its signed
hand-off in the exchange log, and its delivery through an adapter (outbox folder, state portal).
"""
