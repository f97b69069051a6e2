-- The comparison take for docs/PLUGIN.md: Synesthete through the virtual port and MIDI clock
-- (`synesthete stream --sync`), recorded by Ardour 7 on JACK, as a user records it today.
-- measure_port.py writes `CFG = {...}` above this script. Ardour sends MIDI clock and Start to
-- "Synesthete In", records "Synesthete" on a MIDI track, and prints each recorded note:
--   NOTE <beats:ticks> <length beats:ticks> <pitch> <velocity>

local function say (...)
	local parts = {}
	for i, v in ipairs ({...}) do parts[i] = tostring (v) end
	io.stdout:write (table.concat (parts, " ") .. "\n")
	io.stdout:flush ()
end

assert (AudioEngine:set_backend ("JACK", "ardour", ""), "no JACK backend")
assert (AudioEngine:start (false) == 0, "Ardour could not join the JACK server")
assert (create_session (CFG.dir, CFG.name, 48000), "could not create the session")
ARDOUR.config ():set_send_midi_clock (true)

local midi = ARDOUR.ChanCount (ARDOUR.DataType ("midi"), 1)
local rec = Session:new_midi_track (midi, midi, false, ARDOUR.PluginInfo (), nil, nil, 1, "Rec",
	ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, false, false):front ()
local engine = Session:engine ()
rec:input ():disconnect_all (nil)
assert (rec:input ():connect (rec:input ():nth (0), "Synesthete:Synesthete", nil) == 0, "no Synesthete port")
assert (engine:connect ("ardour:MIDI Clock out", "Synesthete In:Synesthete In") == 0, "no Synesthete In port")
rec:rec_enable_control ():set_value (1, PBD.GroupControlDisposition.NoGroup)
ARDOUR.LuaAPI.usleep (1000000)

Session:maybe_enable_record (false)
Session:request_roll (ARDOUR.TransportRequestSource.TRS_UI)
local deadline = os.time () + 120
while Session:transport_sample () < CFG.until_sample and os.time () < deadline do
	ARDOUR.LuaAPI.usleep (2000)
end
Session:request_stop (false, false, ARDOUR.TransportRequestSource.TRS_UI)
ARDOUR.LuaAPI.usleep (500000)
Session:disable_record (false, false)
for r in rec:playlist ():region_list ():iter () do
	local mr = r:to_midiregion ()
	say ("REGION", r:position ():samples (), r:start ():samples ())
	for note in ARDOUR.LuaAPI.note_list (mr:model ()):iter () do
		say ("NOTE", note:time ():str (), note:length ():str (), note:note (), note:velocity ())
	end
end
close_session ()
say ("DONE")
