//! In-memory stand-ins for the approval ports, with the store's conditional writes modelled, for
//! the handler tests. The real adapters are tested against the SDK and the local stack.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use platform::Secret;
use records::approval::{
    ApprovalId, ApprovalPage, ApprovalStatus, ApprovalStore, ApprovalWorkflow, Decision, Delivery,
    Opening, PendingPosition, Recorded, Started, StoreError, StoredApproval, Submission,
    WorkflowError,
};

#[derive(Default)]
pub struct MemoryApprovals {
    pub items: Mutex<BTreeMap<ApprovalId, StoredApproval>>,
    pub failure: Mutex<Option<StoreError>>,
    /// Fails only the pending list.
    pub list_failure: Mutex<Option<StoreError>>,
}

impl MemoryApprovals {
    pub fn insert(&self, stored: StoredApproval) {
        self.items
            .lock()
            .unwrap()
            .insert(stored.approval.id.clone(), stored);
    }

    pub fn status(&self, id: &ApprovalId) -> Option<ApprovalStatus> {
        self.items
            .lock()
            .unwrap()
            .get(id)
            .map(|s| s.approval.status)
    }

    pub fn stored(&self, id: &ApprovalId) -> Option<StoredApproval> {
        self.items.lock().unwrap().get(id).cloned()
    }

    fn failed(&self) -> Result<(), StoreError> {
        match self.failure.lock().unwrap().clone() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

impl ApprovalStore for MemoryApprovals {
    async fn get(&self, id: &ApprovalId) -> Result<Option<StoredApproval>, StoreError> {
        self.failed()?;
        Ok(self.stored(id))
    }

    async fn list_pending(
        &self,
        limit: usize,
        after: Option<&PendingPosition>,
    ) -> Result<ApprovalPage, StoreError> {
        if let Some(err) = self.list_failure.lock().unwrap().clone() {
            return Err(err);
        }
        self.failed()?;
        let mut pending: Vec<_> = self
            .items
            .lock()
            .unwrap()
            .values()
            .filter(|s| s.approval.status == ApprovalStatus::Pending)
            .map(|s| s.approval.clone())
            .collect();
        pending.sort_by(|a, b| (&a.requested_at, &a.id).cmp(&(&b.requested_at, &b.id)));
        let start = after.map_or(0, |after| {
            pending
                .iter()
                .position(|a| (&a.requested_at, &a.id) > (&after.requested_at, &after.id))
                .unwrap_or(pending.len())
        });
        let rest = &pending[start..];
        let approvals: Vec<_> = rest.iter().take(limit).cloned().collect();
        let next_after = (rest.len() > limit).then(|| {
            let last = approvals.last().unwrap();
            PendingPosition {
                requested_at: last.requested_at.clone(),
                id: last.id.clone(),
            }
        });
        Ok(ApprovalPage {
            approvals,
            next_after,
        })
    }

    async fn record_decision(
        &self,
        id: &ApprovalId,
        decision: &Decision,
        token: &Secret,
    ) -> Result<Recorded, StoreError> {
        self.failed()?;
        let mut items = self.items.lock().unwrap();
        match items.get_mut(id) {
            Some(stored)
                if stored.approval.status == ApprovalStatus::Pending
                    && stored.approval.outcome.is_none()
                    && stored.task_token.as_ref().map(Secret::expose) == Some(token.expose()) =>
            {
                stored.approval.status = decision.decision.status();
                stored.approval.decision = Some(decision.clone());
                Ok(Recorded::Recorded)
            }
            _ => Ok(Recorded::NotPending),
        }
    }

    async fn withdraw_decision(
        &self,
        id: &ApprovalId,
        decision: &Decision,
        token: &Secret,
    ) -> Result<bool, StoreError> {
        self.failed()?;
        let mut items = self.items.lock().unwrap();
        if let Some(stored) = items.get_mut(id)
            && stored.approval.decision.as_ref() == Some(decision)
            && stored.approval.outcome.is_none()
            && stored.task_token.as_ref().map(Secret::expose) == Some(token.expose())
        {
            stored.approval.status = ApprovalStatus::Pending;
            stored.approval.decision = None;
            return Ok(true);
        }
        Ok(false)
    }
}

/// The approve-record workflow: executions by name, and the decisions handed to it.
pub struct FakeApprovalFlow {
    pub started: Mutex<Vec<(Submission, Duration)>>,
    pub opening: Mutex<BTreeMap<ApprovalId, Opening>>,
    pub delivered: Mutex<Vec<(String, Decision)>>,
    pub delivery: Mutex<Result<Delivery, WorkflowError>>,
    pub start_failure: Mutex<Option<WorkflowError>>,
}

impl Default for FakeApprovalFlow {
    fn default() -> Self {
        Self {
            started: Mutex::new(Vec::new()),
            opening: Mutex::new(BTreeMap::new()),
            delivered: Mutex::new(Vec::new()),
            delivery: Mutex::new(Ok(Delivery::Delivered)),
            start_failure: Mutex::new(None),
        }
    }
}

impl ApprovalWorkflow for FakeApprovalFlow {
    async fn start(
        &self,
        submission: &Submission,
        timeout: Duration,
    ) -> Result<Started, WorkflowError> {
        if let Some(err) = self.start_failure.lock().unwrap().clone() {
            return Err(err);
        }
        let mut started = self.started.lock().unwrap();
        let before = started
            .iter()
            .any(|(s, _)| s.record.id == submission.record.id);
        started.push((submission.clone(), timeout));
        Ok(if before {
            Started::AlreadyExists
        } else {
            Started::Started
        })
    }

    async fn opening(&self, id: &ApprovalId) -> Result<Option<Opening>, WorkflowError> {
        Ok(self.opening.lock().unwrap().get(id).cloned())
    }

    async fn deliver(
        &self,
        token: &Secret,
        decision: &Decision,
    ) -> Result<Delivery, WorkflowError> {
        self.delivered
            .lock()
            .unwrap()
            .push((token.expose().to_owned(), decision.clone()));
        self.delivery.lock().unwrap().clone()
    }
}
