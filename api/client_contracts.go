package api

import (
	"context"
	"encoding/hex"
	"net/url"
)

// Contract reads a contract's record.
func (c *Client) Contract(ctx context.Context, addr string, opt *QueryOptions) (*Contract, error) {
	return get[Contract](ctx, c, "/v1/contracts/"+url.PathEscape(addr), opt.values())
}

// ContractState reads one entry of a contract's storage.
func (c *Client) ContractState(ctx context.Context, addr string, key []byte, opt *QueryOptions) (*ContractState, error) {
	return get[ContractState](ctx, c, "/v1/contracts/"+url.PathEscape(addr)+"/state/"+hex.EncodeToString(key), opt.values())
}

// Code reads the record of stored contract code.
func (c *Client) Code(ctx context.Context, hash []byte, opt *QueryOptions) (*Code, error) {
	return get[Code](ctx, c, "/v1/codes/"+hex.EncodeToString(hash), opt.values())
}

// ContractStateList reads a page of a contract's storage, in key order.
func (c *Client) ContractStateList(ctx context.Context, addr string, opt ListOptions) (*ContractStatePage, error) {
	return get[ContractStatePage](ctx, c, "/v1/contracts/"+url.PathEscape(addr)+"/state", opt.values())
}

// ContractTriggers reads a contract's subscriptions.
func (c *Client) ContractTriggers(ctx context.Context, addr string, opt *QueryOptions) (*ContractTriggers, error) {
	return get[ContractTriggers](ctx, c, "/v1/contracts/"+url.PathEscape(addr)+"/triggers", opt.values())
}

// TriggerQueue reads the contract trigger queue's position.
func (c *Client) TriggerQueue(ctx context.Context, opt *QueryOptions) (*TriggerQueue, error) {
	return get[TriggerQueue](ctx, c, "/v1/triggers/queue", opt.values())
}
