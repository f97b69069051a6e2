ardour {
	["type"]    = "dsp",
	name        = "Synesthete Test Logger",
	category    = "Utility",
	license     = "MIT",
	author      = "Synesthete",
	description = [[Passes MIDI through and logs each event (tests of the Synesthete plugin)]]
}

-- Each event the plugin before it wrote, five numbers: its transport sample (the transport's
-- position this cycle plus the event's offset), status, data 1, data 2, and its sample on a
-- running count of every sample processed (the clock when the transport is stopped).
-- take.lua reads them from the shared memory after the take.

local maxevents = 20000
local fields = 5
local processed = 0

function dsp_ioconfig ()
	return { { midi_in = 1, midi_out = 1, audio_in = 0, audio_out = 0 }, }
end

function dsp_init (rate)
	self:shmem():allocate (2 + maxevents * fields)
	self:shmem():atomic_set_int (0, 0)
end

function dsp_configure (ins, outs)
	n_out = outs
end

function dsp_runmap (bufs, in_map, out_map, n_samples, offset)
	ARDOUR.DSP.process_map (bufs, n_out, in_map, out_map, n_samples, offset)
	local ib = in_map:get (ARDOUR.DataType ("midi"), 0)
	if ib ~= ARDOUR.ChanMapping.Invalid then
		local n = self:shmem ():atomic_get_int (0)
		local buf = self:shmem ():to_int (2):array ()
		local pos = Session:transport_sample ()
		for _, e in pairs (bufs:get_midi (ib):table ()) do
			if n < maxevents then
				local d = e:buffer ():array ()
				local k = n * fields
				buf[k + 1] = pos + e:time ()
				buf[k + 2] = d[1]
				buf[k + 3] = d[2]
				buf[k + 4] = d[3]
				buf[k + 5] = processed + e:time ()
				n = n + 1
			end
		end
		self:shmem ():atomic_set_int (0, n)
	end
	processed = processed + n_samples
end
