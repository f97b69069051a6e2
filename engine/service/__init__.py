"""The engine as a local service for the Synesthete plugin (``synesthete serve``; docs/PLUGIN.md).

The plugin (LV2, VST3, CLAP; ``plugin/``) keeps time and talks to the host; everything musical
happens here, in the same engine calls ``generate`` makes. Three modules, one concern each:

- ``engine.service.protocol``: where the service listens (a Unix socket only its user can open,
  or loopback TCP with a per-user token where there are no Unix sockets), the framing
  (a 4-byte length, then one JSON object, bounded both ways) and a small client;
- ``engine.service.pieces``: a request → the notes of one piece, exactly as ``generate`` makes
  them, with the plugin's steering turns; a picture → its VA and encoding;
- ``engine.service.server``: the listening loop, the peer check, one thread per connection.

Importing this package loads nothing heavy: the model loads on the first request that needs it.
"""

__all__ = ["protocol", "pieces", "server"]
