//! The transfer budget a side's content streams spend: a slot among the appliance's concurrent transfers, held
//! while a stream is open, and bytes paced to the connector's bandwidth cap. The sides only ask; the Throttle
//! actor decides (`actors::throttle::ThrottleBudget`). The drive side asks for every transfer, because every
//! transfer has the drive at one end: content read from it, or written, or kept as a version.

use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;

use crate::sync::side::ByteStream;

/// Grants transfers and the bytes they move.
pub trait TransferBudget: Send + Sync {
    /// Waits for a transfer slot; the slot is given back when the returned guard is dropped.
    fn slot(&self) -> BoxFuture<'_, Slot>;
    /// Waits until `bytes` more may move.
    fn spend(&self, bytes: u64) -> BoxFuture<'_, ()>;
}

/// A held transfer slot: whatever the budget gave, dropped to give it back.
pub struct Slot(pub Option<Box<dyn Send + Sync>>);

/// `content` under the budget: the slot is held until the stream is dropped, and each chunk is paid for
/// before it moves on.
pub fn paced(content: ByteStream, budget: Arc<dyn TransferBudget>, slot: Slot) -> ByteStream {
    Box::pin(content.then(move |chunk| {
        let (budget, _held) = (budget.clone(), &slot);
        async move {
            if let Ok(bytes) = &chunk {
                budget.spend(bytes.len() as u64).await;
            }
            chunk
        }
    }))
}

/// Takes a slot and wraps `content`, when there is a budget.
pub async fn under(budget: Option<&Arc<dyn TransferBudget>>, content: ByteStream) -> ByteStream {
    match budget {
        Some(budget) => {
            let slot = budget.slot().await;
            paced(content, budget.clone(), slot)
        }
        None => content,
    }
}
