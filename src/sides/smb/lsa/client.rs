//! `LsaClient`: the `lsarpc` pipe on `IPC$`, bound to LSA, with an open policy handle.
//!
//! Each call is one FSCTL_PIPE_TRANSCEIVE (write the request PDU, read the response). A
//! response larger than one fragment (about 4 KiB here) would need further READs on the pipe,
//! which the `smb` crate 0.12.1 does not offer for pipes; instead lookups go in batches small
//! enough for one fragment, and a batch that still comes back fragmented is split in two on a
//! fresh pipe (the unread fragments make the old one useless).

use std::time::Duration;

use smb::{FileCreateArgs, IoctlBuffer, Pipe, PipeTransceiveRequest, Resource, Tree};

use super::calls::{self, LookedUpName, LookedUpSid, PolicyHandle};
use super::pdu::{self, LSARPC};
use super::{LsaError, Sid};
use crate::sides::smb::client::{SmbClient, bounded};
use crate::sides::smb::errors::SmbError;

/// Fragment size we offer in the bind; Samba and Windows settle on 4280.
const MAX_FRAG: u16 = 4280;
/// Largest transceive answer we accept; above any fragment size a server negotiates.
const MAX_OUTPUT: u32 = 65536;
/// SIDs or names per call: a batch of this size fits one 4280-byte fragment for names of
/// ordinary length.
const DEFAULT_BATCH: usize = 20;
/// Common header plus request header in front of the stub.
const REQUEST_OVERHEAD: usize = pdu::HEADER_LEN + 8;

/// An open LSA policy on the share's server. Close it with [`LsaClient::close`].
pub struct LsaClient {
    tree: Tree,
    pipe: Option<Pipe>,
    policy: PolicyHandle,
    call_id: u32,
    timeout: Duration,
    batch: usize,
    /// Largest request PDU the server takes (its max_recv_frag from the bind).
    max_send: usize,
    /// How often an answer came back fragmented and its batch was split (for tests).
    refragmented: usize,
}

impl SmbClient {
    /// Opens the LSA pipe on `IPC$` with this client's session and opens a lookup policy.
    pub async fn lsa(&self) -> Result<LsaClient, LsaError> {
        let tree = self.connect_ipc().await?;
        let mut lsa = LsaClient {
            tree,
            pipe: None,
            policy: [0; 20],
            call_id: 1,
            timeout: self.config().call_timeout,
            batch: DEFAULT_BATCH,
            max_send: MAX_FRAG as usize,
            refragmented: 0,
        };
        if let Err(e) = lsa.open().await {
            let _ = bounded(lsa.timeout, "tree disconnect", lsa.tree.disconnect()).await;
            return Err(e);
        }
        Ok(lsa)
    }
}

impl LsaClient {
    /// Items per lookup call (tests use it to force fragmented answers).
    pub fn set_batch(&mut self, n: usize) {
        self.batch = n.max(1);
    }

    /// How many batches came back in several fragments and were split and asked again.
    pub fn refragmented(&self) -> usize {
        self.refragmented
    }

    async fn open(&mut self) -> Result<(), LsaError> {
        let resource = bounded(self.timeout, "open lsarpc", self.tree.create("lsarpc", &FileCreateArgs::make_pipe()))
            .await?
            .map_err(|e| SmbError::from_smb(e, "IPC$/lsarpc"))?;
        let Resource::Pipe(pipe) = resource else {
            return Err(LsaError::Malformed("lsarpc is not a pipe"));
        };
        self.pipe = Some(pipe);
        let call_id = self.next_call_id();
        let reply = self.transceive(pdu::encode_bind(call_id, &LSARPC, MAX_FRAG)?).await?;
        let ack = pdu::decode_bind_reply(&reply)?;
        if ack.result != 0 {
            return Err(LsaError::BindRejected(ack.reason));
        }
        self.max_send = usize::from(ack.max_recv_frag.max(1024));
        let stub =
            self.call(calls::OPNUM_OPEN_POLICY2, &calls::encode_open_policy2(calls::POLICY_LOOKUP_NAMES)).await?;
        self.policy = calls::decode_open_policy2(&stub)?;
        Ok(())
    }

    async fn reopen(&mut self) -> Result<(), LsaError> {
        if let Some(pipe) = self.pipe.take() {
            let _ = bounded(self.timeout, "close lsarpc", pipe.close()).await;
        }
        self.open().await
    }

    fn next_call_id(&mut self) -> u32 {
        let id = self.call_id;
        self.call_id = self.call_id.wrapping_add(1).max(1);
        id
    }

    async fn transceive(&self, pdu: Vec<u8>) -> Result<Vec<u8>, LsaError> {
        let pipe = self.pipe.as_ref().ok_or(LsaError::Malformed("pipe closed"))?;
        let request = PipeTransceiveRequest(IoctlBuffer::from(pdu));
        let reply = bounded(self.timeout, "lsarpc", pipe.fsctl_with_options(request, MAX_OUTPUT))
            .await?
            .map_err(|e| SmbError::from_smb(e, "IPC$/lsarpc"))?;
        Ok(reply.0.to_vec())
    }

    /// One request/response; `Fragmented` when the answer did not fit one fragment.
    async fn call(&mut self, opnum: u16, stub: &[u8]) -> Result<Vec<u8>, LsaError> {
        let call_id = self.next_call_id();
        let reply = self.transceive(pdu::encode_request(call_id, opnum, stub)?).await?;
        let frag = pdu::decode_response(&reply)?;
        if frag.header.call_id != call_id {
            return Err(LsaError::Malformed("response to another call"));
        }
        if !frag.header.is_last() {
            return Err(LsaError::Fragmented);
        }
        Ok(frag.stub.to_vec())
    }

    /// Names for `sids`, in order; `None` for a SID the server cannot name.
    pub async fn lookup_sids(&mut self, sids: &[Sid]) -> Result<Vec<Option<LookedUpName>>, LsaError> {
        let mut out = Vec::with_capacity(sids.len());
        for chunk in sids.chunks(self.batch) {
            out.extend(self.lookup_sids_split(chunk).await?);
        }
        Ok(out)
    }

    async fn lookup_sids_split(&mut self, sids: &[Sid]) -> Result<Vec<Option<LookedUpName>>, LsaError> {
        let stub = calls::encode_lookup_sids(&self.policy, sids);
        // Requests go in one fragment too: a batch whose request is too big is split first.
        if REQUEST_OVERHEAD + stub.len() > self.max_send && sids.len() > 1 {
            let (a, b) = sids.split_at(sids.len() / 2);
            let mut out = Box::pin(self.lookup_sids_split(a)).await?;
            out.extend(Box::pin(self.lookup_sids_split(b)).await?);
            return Ok(out);
        }
        match self.call(calls::OPNUM_LOOKUP_SIDS, &stub).await {
            Ok(reply) => calls::decode_lookup_sids(&reply, sids.len()),
            Err(LsaError::Fragmented) if sids.len() > 1 => {
                self.refragmented += 1;
                self.reopen().await?;
                let (a, b) = sids.split_at(sids.len() / 2);
                let mut out = Box::pin(self.lookup_sids_split(a)).await?;
                out.extend(Box::pin(self.lookup_sids_split(b)).await?);
                Ok(out)
            }
            Err(e) => Err(e),
        }
    }

    /// SIDs for `names` (`DOMAIN\name` or `name`), in order; `None` for an unknown name.
    pub async fn lookup_names(&mut self, names: &[&str]) -> Result<Vec<Option<LookedUpSid>>, LsaError> {
        let mut out = Vec::with_capacity(names.len());
        for chunk in names.chunks(self.batch) {
            out.extend(self.lookup_names_split(chunk).await?);
        }
        Ok(out)
    }

    async fn lookup_names_split(&mut self, names: &[&str]) -> Result<Vec<Option<LookedUpSid>>, LsaError> {
        let stub = calls::encode_lookup_names(&self.policy, names)?;
        // Requests go in one fragment too: a batch whose request is too big is split first.
        if REQUEST_OVERHEAD + stub.len() > self.max_send && names.len() > 1 {
            let (a, b) = names.split_at(names.len() / 2);
            let mut out = Box::pin(self.lookup_names_split(a)).await?;
            out.extend(Box::pin(self.lookup_names_split(b)).await?);
            return Ok(out);
        }
        match self.call(calls::OPNUM_LOOKUP_NAMES, &stub).await {
            Ok(reply) => calls::decode_lookup_names(&reply, names.len()),
            Err(LsaError::Fragmented) if names.len() > 1 => {
                self.refragmented += 1;
                self.reopen().await?;
                let (a, b) = names.split_at(names.len() / 2);
                let mut out = Box::pin(self.lookup_names_split(a)).await?;
                out.extend(Box::pin(self.lookup_names_split(b)).await?);
                Ok(out)
            }
            Err(e) => Err(e),
        }
    }

    /// Closes the policy handle, the pipe and the `IPC$` tree.
    pub async fn close(mut self) -> Result<(), LsaError> {
        let closed = match self.call(calls::OPNUM_CLOSE, &calls::encode_close(&self.policy)).await {
            Ok(reply) => calls::decode_close(&reply),
            Err(e) => Err(e),
        };
        if let Some(pipe) = self.pipe.take() {
            let _ = bounded(self.timeout, "close lsarpc", pipe.close()).await;
        }
        let _ = bounded(self.timeout, "tree disconnect", self.tree.disconnect()).await;
        closed
    }
}
