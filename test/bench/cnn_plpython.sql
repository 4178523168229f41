-- The PL/Python + torch per-row peer of the CNN benchmark (issue 14): the
-- Fashion-MNIST CNN of test/bench/cnn_torch.py, one row per call, the model
-- kept in SD after the first call of a backend.  The per-row target is
-- maas_predict at least 2x the rows/s of this function.
--
-- test/bench/cnn_infer.sh installs and times it beside maas_predict.  By
-- hand, into the benchmark's throw-away cluster (never the system server),
-- after cnn_torch.py --save DIR has written DIR/cnn_pt.bytes:
--
--   test/bench/plpython_install.sh         (plpython3u into that server)
--   \set state_file 'DIR/cnn_pt.bytes'
--   \i test/bench/cnn_plpython.sql
--   SELECT sum(peer_cnn_torch(pixels)) FROM fmnist;          -- time this
--   SELECT count(*) FILTER (WHERE peer_cnn_torch(pixels) = label) FROM fmnist;
--
-- pixels is a real[784] (or real[1][28][28]) of values in [0, 1], row by row,
-- as the benchmark tables hold them (load_fmnist.py --scaled).  The function
-- is VOLATILE (the default) so that the planner cannot drop calls whose
-- result a count(*) does not use.  torch runs single-threaded here, as a
-- backend does: one row is too little work to share, and every backend of a
-- busy server would otherwise start its own OpenMP threads.

CREATE TABLE peer_torch_model (name text PRIMARY KEY, state bytea NOT NULL);
INSERT INTO peer_torch_model VALUES ('cnn', pg_read_binary_file(:'state_file'));

CREATE FUNCTION peer_cnn_torch(pixels real[]) RETURNS int LANGUAGE plpython3u AS $$
m = SD.get('m')
if m is None:
    import io
    import os
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    import torch
    import torch.nn as nn
    torch.set_num_threads(1)

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3)
            self.conv2 = nn.Conv2d(32, 64, 3)
            self.pool = nn.MaxPool2d(2)
            self.fc1 = nn.Linear(64 * 5 * 5, 128)
            self.drop = nn.Dropout(0.25)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = self.pool(torch.relu(self.conv1(x)))
            x = self.pool(torch.relu(self.conv2(x)))
            x = torch.flatten(x, 1)
            return torch.softmax(self.fc2(self.drop(torch.relu(self.fc1(x)))), dim=1)

    state = plpy.execute("SELECT state FROM peer_torch_model WHERE name = 'cnn'")[0]['state']
    model = CNN()
    model.load_state_dict(torch.load(io.BytesIO(state)))
    model.eval()
    m = SD['m'] = (torch, model)
torch, model = m
with torch.inference_mode():
    x = torch.tensor(pixels, dtype=torch.float32).reshape(1, 1, 28, 28)
    return int(model(x).argmax())
$$;
